<?xml version="1.0" encoding="UTF-8"?>
<!--
  Normalized customs receipt (<receipt xmlns="urn:portgate:receipt:1">) of a Golden-2 verification list →
  the factory ERP's notification, XML variant: MovementNotice in urn:portgate:partner:erp-materials:1
  (declared in xsd/partners/erp-materials.xsd; absent values are left out). Same fields and the same
  choices as the JSON variant (notify-erp-json.xsl); docs/partners/erp-materials.md.
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:r="urn:portgate:receipt:1"
                xmlns:pg="urn:portgate:xpath"
                xmlns="urn:portgate:partner:erp-materials:1"
                extension-element-prefixes="pg"
                exclude-result-prefixes="r pg">

  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:template match="/r:receipt">
    <xsl:variable name="doc">
      <xsl:variable name="k" select="normalize-space((r:key[@name = 'EtpsPreentNo' or @name = 'etpsPreentNo' or @name = 'invPreentNo' or @name = 'EtpsInnerInvtNo'][normalize-space() != ''])[1])"/>
      <xsl:choose>
        <xsl:when test="$k != ''"><xsl:value-of select="$k"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="normalize-space(r:original/@partnerRef)"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="bid" select="normalize-space(r:key[@name = 'businessId'])"/>
    <xsl:variable name="bidIsSeq" select="$bid != '' and translate($bid, '0123456789', '') = ''"/>
    <xsl:variable name="seq">
      <xsl:choose>
        <xsl:when test="normalize-space(r:key[@name = 'SeqNo']) != ''"><xsl:value-of select="normalize-space(r:key[@name = 'SeqNo'])"/></xsl:when>
        <xsl:when test="$bidIsSeq"><xsl:value-of select="$bid"/></xsl:when>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="bond">
      <xsl:choose>
        <xsl:when test="normalize-space(r:key[@name = 'BondInvtNo']) != ''"><xsl:value-of select="normalize-space(r:key[@name = 'BondInvtNo'])"/></xsl:when>
        <xsl:when test="$bid != '' and not($bidIsSeq)"><xsl:value-of select="$bid"/></xsl:when>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="time" select="normalize-space(r:time)"/>
    <MovementNotice>
      <xsl:if test="$doc != ''"><movementNo><xsl:value-of select="$doc"/></movementNo></xsl:if>
      <xsl:if test="$seq != ''"><customsSeqNo><xsl:value-of select="$seq"/></customsSeqNo></xsl:if>
      <xsl:if test="$bond != ''"><bondInvtNo><xsl:value-of select="$bond"/></bondInvtNo></xsl:if>
      <xsl:if test="normalize-space(r:key[@name = 'entrySeqNo']) != ''"><entrySeqNo><xsl:value-of select="normalize-space(r:key[@name = 'entrySeqNo'])"/></entrySeqNo></xsl:if>
      <receiptType><xsl:value-of select="@type"/></receiptType>
      <status><xsl:value-of select="@status"/></status>
      <meaning><xsl:value-of select="r:meaning"/></meaning>
      <final><xsl:value-of select="@final = 'true'"/></final>
      <ok><xsl:value-of select="@judgement = 'ok'"/></ok>
      <xsl:if test="$time != ''">
        <time>
          <xsl:choose>
            <xsl:when test="pg:matches($time, '[0-9]{8}|[0-9]{12}|[0-9]{14}|[0-9]{17}|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?')">
              <xsl:value-of select="pg:time($time, 'yyyy-MM-ddTHH:mm:ss')"/>
            </xsl:when>
            <xsl:otherwise><xsl:value-of select="$time"/></xsl:otherwise>
          </xsl:choose>
        </time>
      </xsl:if>
      <xsl:if test="normalize-space(r:info) != ''"><info><xsl:value-of select="r:info"/></info></xsl:if>
      <xsl:if test="normalize-space(r:original/@id) != ''"><gatewayId><xsl:value-of select="r:original/@id"/></gatewayId></xsl:if>
    </MovementNotice>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">the input must be a normalized receipt (receipt in urn:portgate:receipt:1)</xsl:message>
  </xsl:template>

</xsl:stylesheet>
