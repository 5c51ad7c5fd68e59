<?xml version="1.0" encoding="UTF-8"?>
<!--
  Normalized customs receipt (urn:portgate:receipt:1) → the e-commerce platform's notification, XML
  variant: CustomsNotification in the platform's namespace (xsd/partners/shop-orders.xsd). Same content as
  notify-shop-json.xsl; described in docs/partners/shop-orders.md ("Notifications").
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:r="urn:portgate:receipt:1"
                xmlns="urn:portgate:partner:shop-orders:1"
                exclude-result-prefixes="r">

  <xsl:include href="notify-shop-common.xsl"/>
  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:template match="/">
    <xsl:if test="not(r:receipt)">
      <xsl:message terminate="yes">notify-shop-xml: the input is not a normalized receipt (urn:portgate:receipt:1)</xsl:message>
    </xsl:if>
    <xsl:apply-templates select="r:receipt"/>
  </xsl:template>

  <xsl:template match="r:receipt">
    <xsl:variable name="time"><xsl:call-template name="iso-time"><xsl:with-param name="t" select="r:time"/></xsl:call-template></xsl:variable>
    <CustomsNotification version="1">
      <receiptType><xsl:value-of select="@type"/></receiptType>
      <xsl:if test="r:original">
        <document type="{r:original/@type}" id="{r:original/@id}">
          <xsl:if test="normalize-space(r:original/@partnerRef)">
            <xsl:attribute name="reference"><xsl:value-of select="r:original/@partnerRef"/></xsl:attribute>
          </xsl:if>
        </document>
      </xsl:if>
      <xsl:if test="normalize-space(r:key[@name = 'orderNo'])">
        <orderNo><xsl:value-of select="normalize-space(r:key[@name = 'orderNo'])"/></orderNo>
      </xsl:if>
      <xsl:for-each select="r:key[normalize-space(.)]">
        <key name="{@name}"><xsl:value-of select="normalize-space(.)"/></key>
      </xsl:for-each>
      <status>
        <xsl:attribute name="code"><xsl:value-of select="@status"/></xsl:attribute>
        <xsl:attribute name="final"><xsl:call-template name="boolean"><xsl:with-param name="v" select="@final"/></xsl:call-template></xsl:attribute>
        <xsl:attribute name="result"><xsl:call-template name="result"><xsl:with-param name="v" select="@judgement"/></xsl:call-template></xsl:attribute>
        <xsl:call-template name="status-text"><xsl:with-param name="receipt" select="."/></xsl:call-template>
      </status>
      <xsl:if test="string($time)">
        <time><xsl:value-of select="$time"/></time>
      </xsl:if>
      <xsl:if test="normalize-space(r:customsCode) and normalize-space(r:customsDesc)">
        <customs code="{normalize-space(r:customsCode)}"><xsl:value-of select="normalize-space(r:customsDesc)"/></customs>
      </xsl:if>
      <xsl:if test="string(r:info)">
        <info><xsl:value-of select="r:info"/></info>
      </xsl:if>
    </CustomsNotification>
  </xsl:template>

</xsl:stylesheet>
