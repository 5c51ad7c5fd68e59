<?xml version="1.0" encoding="UTF-8"?>
<!--
  Normalized customs receipt (<receipt xmlns="urn:portgate:receipt:1">) of a declaration → the customs
  broker's notification, XML variant: DeclarationNotice in urn:portgate:partner:broker-declarations:1
  (declared in xsd/partners/broker-declarations.xsd; absent values are left out). Same fields and the same
  choices as the JSON variant (notify-broker-json.xsl); docs/partners/broker-declarations.md.
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:r="urn:portgate:receipt:1"
                xmlns:pg="urn:portgate:xpath"
                xmlns="urn:portgate:partner:broker-declarations:1"
                extension-element-prefixes="pg"
                exclude-result-prefixes="r pg">

  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:template match="/r:receipt">
    <xsl:variable name="job">
      <xsl:choose>
        <xsl:when test="normalize-space(r:key[@name = 'ClientSeqNo']) != ''"><xsl:value-of select="normalize-space(r:key[@name = 'ClientSeqNo'])"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="normalize-space(r:original/@partnerRef)"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="seq" select="normalize-space((r:key[@name = 'SeqNo' or @name = 'CUS_CIQ_NO' or @name = 'SEQ_NO'][normalize-space() != ''])[1])"/>
    <xsl:variable name="entry" select="normalize-space(r:key[@name = 'ENTRY_ID'])"/>
    <xsl:variable name="time" select="normalize-space(r:time)"/>
    <DeclarationNotice>
      <xsl:if test="$job != ''"><jobNo><xsl:value-of select="$job"/></jobNo></xsl:if>
      <xsl:if test="$seq != ''"><seqNo><xsl:value-of select="$seq"/></seqNo></xsl:if>
      <xsl:if test="$entry != ''"><entryNo><xsl:value-of select="$entry"/></entryNo></xsl:if>
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
      <xsl:if test="normalize-space(r:customsCode) != ''"><customsCode><xsl:value-of select="normalize-space(r:customsCode)"/></customsCode></xsl:if>
      <xsl:if test="normalize-space(r:customsDesc) != ''"><customsDesc><xsl:value-of select="r:customsDesc"/></customsDesc></xsl:if>
      <xsl:if test="normalize-space(r:original/@id) != ''"><gatewayId><xsl:value-of select="r:original/@id"/></gatewayId></xsl:if>
    </DeclarationNotice>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">the input must be a normalized receipt (receipt in urn:portgate:receipt:1)</xsl:message>
  </xsl:template>

</xsl:stylesheet>
